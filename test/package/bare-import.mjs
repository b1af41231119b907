// Imports the installed package with the browser globals removed: nothing may be needed at
// import (only when a client connects or a call starts).
for (const name of ['WebSocket', 'navigator', 'RTCPeerConnection', 'MediaStream', 'crypto', 'window', 'document']) {
  Object.defineProperty(globalThis, name, { value: undefined, configurable: true, writable: true });
}
const lib = await import('webrtc-signaling-client');
const classes = Object.keys(lib)
  .filter((k) => ['SignalingClient', 'MeshCall', 'SignalingError', 'ExponentialBackoffPolicy'].includes(k))
  .sort();
console.log(`imported: ${classes.join(',')}`);
