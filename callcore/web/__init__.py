"""The operator desktop and the supervisor wallboard: browser sign-in, sessions, and the pages themselves
(static HTML, CSS and JavaScript modules shipped inside the package; nothing is fetched from elsewhere)."""
