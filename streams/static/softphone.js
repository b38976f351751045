// Sends the microphone to /v1/webrtc: offer over the websocket, answer back, audio by RTP.
import { showState, wsUrl } from "/static/live.js";

const $ = (id) => document.getElementById(id);
let socket = null;
let peer = null;
let stream = null;

$("call-id").addEventListener("input", link);
link();

function link() {
  $("desktop-link").href = `/desktop?call=${encodeURIComponent($("call-id").value)}`;
}

$("start").addEventListener("click", async () => {
  $("start").disabled = true;
  showState($("conn"), "connecting");
  stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  peer = new RTCPeerConnection(); // host candidates; see README for STUN/TURN
  stream.getAudioTracks().forEach((track) => peer.addTrack(track, stream));
  await peer.setLocalDescription(await peer.createOffer());
  await gathered(peer);
  socket = new WebSocket(wsUrl("/v1/webrtc"));
  socket.onopen = () => socket.send(JSON.stringify({
    type: "offer",
    sdp: peer.localDescription.sdp,
    call_id: $("call-id").value,
    speakers: [$("speaker").value],
  }));
  socket.onmessage = async (message) => {
    const reply = JSON.parse(message.data);
    if (reply.type === "answer") {
      await peer.setRemoteDescription(reply);
      showState($("conn"), "live");
      $("stop").disabled = false;
    } else if (reply.type === "error") {
      $("conn").textContent = `refused: ${reply.message}`;
    }
  };
  socket.onclose = () => stop(false);
});

$("stop").addEventListener("click", () => stop(true));

function stop(sendStop) {
  if (sendStop && socket && socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify({ type: "stop" }));
  }
  if (peer) peer.close();
  if (stream) stream.getTracks().forEach((track) => track.stop());
  peer = stream = null;
  showState($("conn"), "closed");
  $("start").disabled = false;
  $("stop").disabled = true;
}

function gathered(connection) {
  // no trickle ICE: the offer carries every candidate
  if (connection.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    connection.addEventListener("icegatheringstatechange", () => {
      if (connection.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 3000);
  });
}
