package slackserver

// User is a workspace member users.info knows.
type User struct {
	// ID is the Slack user ID (U024BE7LH).
	ID   string
	Name string
	// Email is the profile's e-mail address. Slack only returns it to apps
	// with the users:read.email scope; empty leaves it out of the answer, as
	// Slack does for an app without that scope.
	Email string
}

// AddUser registers members for users.info, replacing any with the same ID.
func (s *Server) AddUser(users ...User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range users {
		s.users[u.ID] = u
	}
}

// usersInfo answers users.info for a registered member, user_not_found
// otherwise.
func (s *Server) usersInfo(form map[string]string) (map[string]any, string) {
	u, ok := s.users[form["user"]]
	if !ok {
		return nil, "user_not_found"
	}
	profile := map[string]any{"real_name": u.Name, "display_name": u.Name}
	if u.Email != "" {
		profile["email"] = u.Email
	}
	return map[string]any{"user": map[string]any{
		"id": u.ID, "team_id": "T0FERRY01", "name": u.Name, "real_name": u.Name, "profile": profile,
	}}, ""
}
