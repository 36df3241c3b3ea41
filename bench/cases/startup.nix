# Startup: evaluating the smallest expression.
1
