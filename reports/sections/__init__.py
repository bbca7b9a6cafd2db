"""The sections of the PDF report, one module each; ``reports.build`` puts them in reading order."""
