"""From the keys a visitor holds to one of the game's actions.

The page sends which of five controls are held (a bit each); the game's action is the one of its own set
(the ALE's minimal set, as the agent has it) that uses the most held controls and no other: in Breakout,
whose actions are NOOP, FIRE, RIGHT and LEFT, holding UP and RIGHT plays RIGHT.
"""

UP, DOWN, LEFT, RIGHT, FIRE = 1, 2, 4, 8, 16
CONTROLS = {"UP": UP, "DOWN": DOWN, "LEFT": LEFT, "RIGHT": RIGHT, "FIRE": FIRE}
ALL_BITS = UP | DOWN | LEFT | RIGHT | FIRE


def action_bits(name: str) -> int | None:
    """The controls an ALE action name is made of (``UPRIGHTFIRE``: UP, RIGHT, FIRE); None for an unknown name."""
    if name == "NOOP":
        return 0
    bits, rest = 0, name
    for control in ("UP", "DOWN", "RIGHT", "LEFT", "FIRE"):
        if rest.startswith(control):
            bits, rest = bits | CONTROLS[control], rest[len(control) :]
    return bits if not rest else None


def key_map(action_names: tuple[str, ...]) -> list[int]:
    """For each of the 32 combinations of held controls, the index of the action it plays."""
    made_of = [action_bits(name) for name in action_names]
    mapping = []
    for held in range(ALL_BITS + 1):
        best, best_count = 0, -1
        for index, bits in enumerate(made_of):
            if bits is not None and bits & ~held == 0 and bin(bits).count("1") > best_count:
                best, best_count = index, bin(bits).count("1")
        mapping.append(best)
    return mapping


def controls_used(action_names: tuple[str, ...]) -> list[str]:
    """The controls this game's actions use, for the page to show only those keys and buttons."""
    used = 0
    for name in action_names:
        used |= action_bits(name) or 0
    return [control for control, bit in CONTROLS.items() if used & bit]
