"""The Leaderboard: agents ranked per game by scores the Arena measured itself, on a fixed protocol."""
