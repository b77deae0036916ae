package store

// WithoutAggregatesForTest opens a store that maintains no aggregates (and
// answers Stats by reading headers), to measure what maintaining them
// costs an append.
func WithoutAggregatesForTest() Option {
	return optionFunc(func(c *config) error {
		c.noAggregates = true
		return nil
	})
}
