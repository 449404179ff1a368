"""Directory users, business units, agent teams, agents and their mapping."""
