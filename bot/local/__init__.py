"""The demo and the local Slack workspace it runs against: not the product; tests and stand-ins may import it."""
