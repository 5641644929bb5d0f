"""Test support shipped with the package (object-store emulators)."""
