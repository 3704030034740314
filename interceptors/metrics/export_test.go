package metrics

// SetMaxSeries lowers the bound on decision series (maxSeries), so that a
// test can reach it with a few calls. Call it before the first decision.
func SetMaxSeries(m *Metrics, n int) { m.maxSeries = n }
