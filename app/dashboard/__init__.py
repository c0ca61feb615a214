"""工作进度: progress dashboards for the county, a project and a village, as numbers, SVG charts and a one-page PDF briefing."""
