"""Your turn: a visitor plays an Atari game in the browser, in real time, with the agent's Q-values beside it."""
