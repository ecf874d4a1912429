"""Which game an agent is for, as its repo says: one rule for every place that takes a repo id.

A repo says its game by the RL Zoo's naming, ``<algo>-<EnvId>`` (``alice/dqn-PongNoFrameskip-v4``,
``sb3/qrdqn-BreakoutNoFrameskip-v4``), else by its files, whose ``<algo>-<EnvId>.zip`` names the
environment: those of the local Hugging Face cache's snapshot, else the Hub's listing (within one
request's deadline). The game must be in the catalog. Where a game and agents meet (Play, Evaluate,
Compare's A and B, the start agent of training and tuning):

- no game given (``--game`` left out, ``game=""`` through the API): the agents' game;
- a game given that is not the agents': refused with both, before anything is downloaded;
- ``repo_wins``, the page's rule (its dropdown always holds a game): the agents' game, and the page says so;
- agents of different games: refused, saying which is which.
"""

import re
from dataclasses import dataclass
from itertools import combinations

from agents.core.agent_files import game_or_default, playable_now_sentence
from agents.core.catalog import GAMES, Game, env_game, get_game
from agents.core.errors import AgentError
from agents.core.hub import ALGOS, HubUnavailable, cached_file_names, check_repo_id, hub_file_names

ENV_ID = r"(?P<env_id>[A-Za-z0-9]+-v\d+)"
RL_ZOO_NAME = re.compile(rf"(?P<algo>[A-Za-z0-9_]+)-{ENV_ID}")
AGENT_ZIP = re.compile(rf"(?P<algo>{'|'.join(ALGOS)})-{ENV_ID}\.zip")


@dataclass(frozen=True)
class AgentGame:
    """The game an agent is for (several only for a repo holding agents of several games), and how it is known."""

    agent: str  # a repo id or a run folder, as given
    games: tuple[Game, ...]
    evidence: str  # e.g. "its name says so"

    def says(self, label: str = "") -> str:
        """E.g. ``A, alice/dqn-PongNoFrameskip-v4, plays Pong (its name says so)``."""
        who = f"{label}, {self.agent}," if label else self.agent
        return f"{who} plays {' or '.join(game.title for game in self.games)} ({self.evidence})"


def _not_in_catalog(repo_id: str, env_id: str, evidence: str) -> AgentError:
    return AgentError(
        f"{repo_id} is an agent for {env_id} ({evidence}), which is not one of the Arena's games: "
        f"{', '.join(game.env_id for game in GAMES.values())}."
    )


def repo_game(repo_id: str) -> AgentGame:
    """The game of the agent in ``repo_id``: from its name, else from its files (the cache's, else the Hub's
    listing). Refused, with why, when neither says a game of the catalog."""
    repo_id = check_repo_id(repo_id)
    named = RL_ZOO_NAME.fullmatch(repo_id.split("/")[1])
    if named and (game := env_game(named["env_id"])):
        return AgentGame(repo_id, (game,), "its name says so")
    zips = [found for name in cached_file_names(repo_id) if (found := AGENT_ZIP.fullmatch(name))]
    if not zips:
        try:
            zips = [found for name in hub_file_names(repo_id) if (found := AGENT_ZIP.fullmatch(name))]
        except HubUnavailable as error:
            if named:  # what the name says is all there is to go on
                raise _not_in_catalog(repo_id, named["env_id"], "its name says so") from None
            raise HubUnavailable(f"{error} {playable_now_sentence(online=False)}") from None
    if not zips:
        raise AgentError(
            f"{repo_id} holds no {' or '.join(f'{algo}-<EnvId>.zip' for algo in ALGOS)}: it is not an RL Zoo DQN "
            "or QR-DQN agent. Check the repo id."
        )
    playable = {found.string: game for found in zips if (game := env_game(found["env_id"]))}
    if not playable:
        raise _not_in_catalog(repo_id, zips[0]["env_id"], f"its file {zips[0].string} says so")
    games = tuple(dict.fromkeys(playable.values()))
    files = " and ".join(playable)
    evidence = f"its file {files} says so" if len(playable) == 1 else f"its files {files} say so"
    return AgentGame(repo_id, games, evidence)


def repo_claims(repos: dict[str, str | None]) -> dict[str, AgentGame]:
    """The games of the repos given (empty ones are none), keyed as a refusal names them ("" for a lone one)."""
    return {label: repo_game(repo_id) for label, repo_id in repos.items() if repo_id and repo_id.strip()}


def settle_game(game: str | None, claims: dict[str, AgentGame], repo_wins: bool = False) -> Game:
    """The game to play where ``game`` (empty: none given) meets the agents' ``claims`` (see the module)."""
    given = get_game(game) if game and game.strip() else None
    if not claims:
        return given or game_or_default(None)
    for (label_a, a), (label_b, b) in combinations(claims.items(), 2):
        if not set(a.games) & set(b.games):
            raise AgentError(
                f"{a.says(label_a)}, and {b.says(label_b)}: both agents must play one game. "
                f"Change {label_a} or {label_b}."
            )
    common = [each for each in GAMES.values() if all(each in claim.games for claim in claims.values())]
    if given is not None and given in common:
        return given
    if given is not None and not repo_wins:
        label, claim = next((label, claim) for label, claim in claims.items() if given not in claim.games)
        raise AgentError(
            f"{claim.says(label)}, not {given.title}. To use it, leave the game out or choose "
            f"{' or '.join(each.title for each in claim.games)}; for {given.title}, give "
            f"{f'{label} ' if label else ''}a {given.title} agent's repo."
        )
    if len(common) == 1:
        return common[0]
    label, claim = next(iter(claims.items()))
    raise AgentError(f"{claim.says(label)}: choose the game.")


def resolve_game(game: str | None, repo_id: str | None = None) -> Game:
    """The game to play with ``repo_id`` (none: the game's own agent) where ``game`` is given, or not."""
    return settle_game(game, repo_claims({"": repo_id}))


def page_game(shown: str, claims: dict[str, AgentGame]) -> tuple[Game, str]:
    """The page's rule: the game the agents say wins over the dropdown's ``shown``; with a note for the page
    saying so ("" without agents)."""
    game = settle_game(shown, claims, repo_wins=True)
    if not claims:
        return game, ""
    says = "; ".join(claim.says(label) for label, claim in claims.items())
    changed = game.key != shown
    return game, f"The game is now **{game.title}**: {says}." if changed else f"{says}."
