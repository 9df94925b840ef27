// Where the console keeps the user's token: sessionStorage (gone when the
// tab closes), never localStorage, a cookie or the URL. A token handed over
// as `#token=...` is taken from the fragment (which browsers never send to
// the server) and removed from the address bar and history at once.

const KEY = 'appia.token';

/** Takes a token from `#token=...` if there is one; returns the token to use, or null. */
export function startSession() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const handed = fragment.get('token');
  if (handed !== null) {
    fragment.delete('token');
    const rest = fragment.toString();
    history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
    if (handed.trim()) saveToken(handed.trim());
  }
  return sessionStorage.getItem(KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function endSession() {
  sessionStorage.removeItem(KEY);
}
