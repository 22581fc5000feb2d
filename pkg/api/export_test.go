package api

// Patterns lists the server's routes ("METHOD /path").
func (s *Server) Patterns() []string { return s.patterns }
