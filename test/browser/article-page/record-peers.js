// Test harness, loaded before the article's code: records every RTCPeerConnection the
// article's makePeer creates (it calls `new RTCPeerConnection()`), so the test can read
// getStats(). Behaviour is the browser's own.
(() => {
  const Native = window.RTCPeerConnection;
  window.articlePeers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.articlePeers.push(this);
    }
  };
})();
