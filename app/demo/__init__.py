"""Demo data at the scale of the real story (封丘县): ``generate`` builds it (pure, seeded), ``load`` writes it."""
