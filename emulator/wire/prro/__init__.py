"""The tax service's ПРРО formats: XML documents in windows-1251, offline fiscal numbers, offline packages."""
