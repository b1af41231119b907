// Test harness: starts the article's client for ?room=R&name=N, as the article's page would.
/* global setSignaling */
(() => {
  const params = new URLSearchParams(location.search);
  setSignaling(params.get('room'), params.get('name')).catch((error) => {
    window.articleError = String(error);
  });
})();
