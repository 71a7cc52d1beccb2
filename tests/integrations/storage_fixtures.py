"""What the storage tests share: planted secrets, and the VirusTotal stand-in.

The JWT secret and the VirusTotal key are planted: recognisable, shaped like real ones, and
neither they nor the Supabase keys signed with the secret may show anywhere.
"""

from __future__ import annotations

from toolbox_tui.sandbox.virustotal_api import VirusTotalApi

__all__ = ["VirusTotalApi"]

JWT_SECRET = "PLANTED-supabase-jwt-secret-" + "0123456789abcdef" * 2
OTHER_SECRET = "OTHER-supabase-jwt-secret-" + "fedcba9876543210" * 2
VT_KEY = "0badc0de" * 8  # 64 hex characters, as VirusTotal's keys
OTHER_VT_KEY = "feedface" * 8
BUCKET = "user-uploads"
OBJECTS = ("tenant-1/report.pdf", "tenant-2/avatar.png", "welcome.txt")
