"""Views for people of a Plan, an Outcome (add, remove, restore) or an AuditReport, all
of one shape: `render(view, **options) -> str`. Scripts for a firewall platform (the
exports) live with their platform, in platforms/."""
