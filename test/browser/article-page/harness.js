// Test harness: the article calls playVideo(element, stream) but does not define it.
// It also remembers the local stream's id, which the other pages see in their remote SDP
// (a=msid), so the test can tell which remote each peer connection receives from.
function playVideo(element, stream) {
  window.articleSelfStreamId = stream.id;
  element.srcObject = stream;
  element.play().catch(() => undefined);
}
