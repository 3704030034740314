package metrics

// SetMaxMethods lowers the bound on the method label's values (maxMethods),
// so that a test can reach it with a few calls. Call it before the first
// decision.
func SetMaxMethods(m *Metrics, n int) { m.maxMethods = n }
