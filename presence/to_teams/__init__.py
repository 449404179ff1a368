"""Contact center → Teams: agent events from the ACD become Teams presence."""
