"""One construct per business concern; the stack composes them."""
