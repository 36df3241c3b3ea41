1 * null
