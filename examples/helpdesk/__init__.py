"""A small web helpdesk with after-sales buttons on its ticket page (docs/web-helpdesk.md)."""
