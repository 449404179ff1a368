"""The live presence board, agent history and the sync health the dashboard shows."""
