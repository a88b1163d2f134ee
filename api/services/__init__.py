"""Business logic. Routes and actions stay thin and call into these modules."""
