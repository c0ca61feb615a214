"""花名册: households and members imported from an XLSX roster, and lists exported to XLSX."""
