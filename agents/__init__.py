"""Atari DQN Arena: watch RL Zoo DQN agents from the Hugging Face Hub play Atari games."""
