// The original article's client code (/work/shared/seed/000_e3b867f5984f432b.txt), copied
// verbatim below this header: setSignaling and makePeer, not one character changed.
// playVideo, which the article uses but does not define, is in harness.js.
/* global playVideo */
async function setSignaling(roomName, name) {
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  playVideo(document.getElementById('video-self'), stream);
  const ws = new WebSocket(location.origin.replace('http', 'ws') + '/video_chat/signaling');
  ws.addEventListener('open', () => {
    ws.send(JSON.stringify({ method: 'open', roomName: roomName, name: name }));
  });
  ws.addEventListener('message', (message) => {
    const json = JSON.parse(message.data);
    if (json.method === 'rtc') {
      if (json.type === 'request') {
        const peer = makePeer(ws, roomName, json.from, json.to);
        stream.getTracks().forEach((a) => {
          peer.addTrack(a, stream);
        });
        const to = json.to,
          from = json.from;
        peer
          .createOffer()
          .then((description) => peer.setLocalDescription(description))
          .then(() => {
            console.log(`${json.to}とのローカルSDPをセット`);
          });
        function getAnswer(message) {
          const json = JSON.parse(message.data);
          if (
            json.method === 'rtc' &&
            json.description != null &&
            json.description.type === 'answer' &&
            to === json.to &&
            from === json.from
          ) {
            peer.setRemoteDescription(new RTCSessionDescription(json.description)).then(() => {
              console.log(`${json.to}とのリモートSDPをセット`);
            });
            ws.removeEventListener('message', getAnswer);
          }
        }
        ws.addEventListener('message', getAnswer);
      } else if (json.description != null && json.description.type === 'offer') {
        const peer = makePeer(ws, roomName, json.from, json.to);
        stream.getTracks().forEach((a) => {
          peer.addTrack(a, stream);
        });
        peer
          .setRemoteDescription(new RTCSessionDescription(json.description))
          .then(() => peer.createAnswer())
          .then((description) => peer.setLocalDescription(description))
          .then(() => {
            console.log(`${json.from}とのリモートとローカルSDPをセット`);
          });
      }
    }
  });
}
function makePeer(socket, roomName, from, to) {
  const peer = new RTCPeerConnection();
  peer.onicecandidate = (event) => {
    if (event.candidate == null)
      socket.send(JSON.stringify({ method: 'rtc', description: peer.localDescription, roomName: roomName, from: from, to: to }));
  };
  peer.ontrack = (event) => {
    // video要素を作って写す処理
  };
  return peer;
}
