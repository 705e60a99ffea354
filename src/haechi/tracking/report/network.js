// Force-directed view of the user-room network. Reads the JSON in #network-data and
// draws into #network; nodes can be dragged. Loads nothing from the network.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("network-data").textContent);
  var svg = document.getElementById("network");
  var NS = "http://www.w3.org/2000/svg";
  var W = 900, H = 600, nodes = data.nodes, links = data.links;
  var palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                 "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var index = {};
  nodes.forEach(function (n, i) {
    index[n.id] = i;
    var a = 2 * Math.PI * i / nodes.length;
    n.x = W / 2 + 250 * Math.cos(a); n.y = H / 2 + 250 * Math.sin(a);
  });
  links.forEach(function (l) { l.s = index[l.source]; l.t = index[l.target]; });
  // A fixed number of iterations: repulsion between all pairs, springs along links.
  for (var it = 0; it < 250; it++) {
    var cool = 1 - it / 250;
    for (var i = 0; i < nodes.length; i++) {
      var a = nodes[i]; a.dx = (W / 2 - a.x) * 0.01; a.dy = (H / 2 - a.y) * 0.01;
      for (var j = 0; j < nodes.length; j++) {
        if (i === j) continue;
        var b = nodes[j], ddx = a.x - b.x, ddy = a.y - b.y;
        var d2 = ddx * ddx + ddy * ddy + 0.01;
        a.dx += 800 * ddx / d2; a.dy += 800 * ddy / d2;
      }
    }
    links.forEach(function (l) {
      var s = nodes[l.s], t = nodes[l.t], ddx = t.x - s.x, ddy = t.y - s.y;
      s.dx += ddx * 0.02; s.dy += ddy * 0.02; t.dx -= ddx * 0.02; t.dy -= ddy * 0.02;
    });
    nodes.forEach(function (n) {
      var step = Math.min(20, Math.sqrt(n.dx * n.dx + n.dy * n.dy)) * cool;
      var len = Math.sqrt(n.dx * n.dx + n.dy * n.dy) || 1;
      n.x = Math.max(10, Math.min(W - 10, n.x + n.dx / len * step));
      n.y = Math.max(10, Math.min(H - 10, n.y + n.dy / len * step));
    });
  }
  var lines = links.map(function (l) {
    var e = document.createElementNS(NS, "line");
    e.setAttribute("stroke", "#bbb"); e.setAttribute("stroke-width", Math.min(4, 0.5 + Math.log(1 + l.w)));
    svg.appendChild(e); return e;
  });
  var shapes = nodes.map(function (n) {
    var room = n.kind === "room";
    var e = document.createElementNS(NS, room ? "rect" : "circle");
    var size = 4 + Math.min(12, Math.sqrt(n.size || 1));
    if (room) { e.setAttribute("width", 2 * size); e.setAttribute("height", 2 * size); }
    else { e.setAttribute("r", size); }
    e.setAttribute("fill", palette[(n.community || 0) % palette.length]);
    e.setAttribute("stroke", n.flagged ? "#000" : "#fff");
    e.setAttribute("stroke-width", n.flagged ? 2 : 1);
    var title = document.createElementNS(NS, "title");
    title.textContent = n.label; e.appendChild(title);
    e.style.cursor = "move"; e.dataset.size = size;
    svg.appendChild(e); return e;
  });
  function draw() {
    links.forEach(function (l, k) {
      var s = nodes[l.s], t = nodes[l.t];
      lines[k].setAttribute("x1", s.x); lines[k].setAttribute("y1", s.y);
      lines[k].setAttribute("x2", t.x); lines[k].setAttribute("y2", t.y);
    });
    nodes.forEach(function (n, k) {
      var e = shapes[k], size = +e.dataset.size;
      if (n.kind === "room") { e.setAttribute("x", n.x - size); e.setAttribute("y", n.y - size); }
      else { e.setAttribute("cx", n.x); e.setAttribute("cy", n.y); }
    });
  }
  var dragging = -1;
  shapes.forEach(function (e, k) {
    e.addEventListener("mousedown", function (ev) { dragging = k; ev.preventDefault(); });
  });
  svg.addEventListener("mousemove", function (ev) {
    if (dragging < 0) return;
    var box = svg.getBoundingClientRect();
    nodes[dragging].x = (ev.clientX - box.left) * W / box.width;
    nodes[dragging].y = (ev.clientY - box.top) * H / box.height;
    draw();
  });
  window.addEventListener("mouseup", function () { dragging = -1; });
  draw();
})();
