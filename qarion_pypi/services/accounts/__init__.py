"""Who may do what: users, teams, spaces with their members, project scopes, and naming rules."""
