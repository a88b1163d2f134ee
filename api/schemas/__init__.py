"""Request and response bodies (pydantic v2), split by use: Create, Update, Public."""
