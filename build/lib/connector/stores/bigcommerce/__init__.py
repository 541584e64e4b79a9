"""BigCommerce: client, schemas, webhook verification, mapping, flow, hooks, CLI."""
