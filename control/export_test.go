package control

// SetPageSize makes streams read n items per read transaction until the
// returned function restores PageSize.
func SetPageSize(n int) func() {
	pageSize = n
	return func() { pageSize = PageSize }
}
