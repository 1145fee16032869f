"""A person's running totals and what each fund can still pay (like the national 5206)."""
