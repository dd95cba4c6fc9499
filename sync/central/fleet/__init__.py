"""The fleet at the central: what each kiosk and node reports about its health, where they stand, roll-ups of
readings for completeness and charts, and alerts with notifications (docs/central.md, "The fleet")."""
