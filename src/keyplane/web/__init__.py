"""Server-rendered pages: login, device approval, the console. No JavaScript needed."""
