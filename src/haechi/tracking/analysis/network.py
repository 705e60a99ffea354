"""The user-room network: communities, brokers, and whose removal breaks it apart.

Nodes are users (``u:<key>``) and rooms (``r:<chat id>``); an edge joins a user to a
room they posted in, weighted by messages, and a user to another they replied to or
forwarded from (when that person is known), weighted by those messages. Louvain
communities use a fixed seed so the same data gives the same communities. Betweenness
is exact up to ``EXACT_LIMIT`` nodes and sampled (fixed seed) above. The removal
search is greedy: at each step it removes the candidate account that leaves the
smallest largest connected component.
"""

from __future__ import annotations

import networkx as nx

from haechi.tracking.schemas import KeyPlayer, NetworkInfo

SEED = 7
EXACT_LIMIT = 2_000
SAMPLES = 128
#: Accounts tried at each greedy step: the highest by betweenness.
CANDIDATES = 25
MAX_COMMUNITY_LISTED = 500


def build_graph(rooms_of: dict[str, dict[str, int]],
                between_users: dict[tuple[str, str], int] | None = None) -> nx.Graph[str]:
    """User-room edges (messages posted), plus user-user edges (replies, forwards)."""
    graph: nx.Graph[str] = nx.Graph()
    for user, rooms in rooms_of.items():
        for chat, count in rooms.items():
            graph.add_edge(f"u:{user}", f"r:{chat}", weight=count)
    for (user, other), count in (between_users or {}).items():
        a, b = f"u:{user}", f"u:{other}"
        weight = count + (graph[a][b]["weight"] if graph.has_edge(a, b) else 0)
        graph.add_edge(a, b, weight=weight)
    return graph


def analyse_network(graph: nx.Graph[str], *, k: int = 5) -> tuple[NetworkInfo, dict[str, int],
                                                               dict[str, float]]:
    """The summary, node -> community number, and node -> betweenness."""
    if graph.number_of_nodes() == 0:
        return NetworkInfo(nodes=0, edges=0, communities=[], key_players=[],
                           largest_component_before=0), {}, {}
    communities = sorted(
        (sorted(c) for c in nx.community.louvain_communities(graph, weight="weight",
                                                             seed=SEED)),
        key=lambda c: (-len(c), c[0]))
    community_of = {node: i for i, nodes in enumerate(communities) for node in nodes}
    n = graph.number_of_nodes()
    betweenness: dict[str, float] = nx.betweenness_centrality(
        graph, k=None if n <= EXACT_LIMIT else SAMPLES, seed=SEED)
    before = _largest(graph)
    players = _key_players(graph, betweenness, k)
    info = NetworkInfo(
        nodes=n, edges=graph.number_of_edges(),
        communities=[c[:MAX_COMMUNITY_LISTED] for c in communities],
        key_players=players, largest_component_before=before)
    return info, community_of, betweenness


def _largest(graph: nx.Graph[str]) -> int:
    return max((len(c) for c in nx.connected_components(graph)), default=0)


def _key_players(graph: nx.Graph[str], betweenness: dict[str, float], k: int) -> list[KeyPlayer]:
    users = sorted((node for node in graph if node.startswith("u:")),
                   key=lambda node: (-betweenness.get(node, 0.0), node))
    remaining = graph.copy()
    picked: list[KeyPlayer] = []
    for _ in range(min(k, len(users))):
        candidates = [u for u in users if u in remaining][:CANDIDATES]
        if not candidates:
            break
        best, best_size = candidates[0], None
        for user in candidates:
            edges = list(remaining.edges(user, data=True))
            remaining.remove_node(user)
            size = _largest(remaining)
            remaining.add_node(user)
            remaining.add_edges_from(edges)
            if best_size is None or size < best_size:
                best, best_size = user, size
        remaining.remove_node(best)
        picked.append(KeyPlayer(user_key=best.removeprefix("u:"),
                                betweenness=round(betweenness.get(best, 0.0), 6),
                                largest_component_after=best_size or 0))
    return picked
