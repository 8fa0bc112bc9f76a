"""Mail transports: deliver the outbox's emails after their unit of work commits.

The memory backend keeps delivered emails in memory; `SMTPTransport` sends them
through an SMTP server with the standard library's `smtplib`.
"""

from aftersales.mail.smtp import SMTPSecurity, SMTPSettings, SMTPTransport, build_message

__all__ = ["SMTPSecurity", "SMTPSettings", "SMTPTransport", "build_message"]
