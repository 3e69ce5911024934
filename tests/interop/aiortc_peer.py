"""A WHIP publisher or WHEP viewer built on aiortc: a WebRTC stack this project did not write.

    aiortc_peer.py publish <whip url> <token> <seconds>
    aiortc_peer.py publish-on-request <whip url> <token> <seconds>
    aiortc_peer.py watch <whep url> <token> <seconds>

The publisher sends a moving test picture (encoded to H.264 by aiortc, through libx264) and a
tone; the viewer decodes what it receives. Either prints one JSON line of what happened, and
ends its session with DELETE.

`publish-on-request` is a camera whose encoder makes keyframes only when the other side asks
(PLI/FIR), as phone encoders do: libx264 gets an infinite keyframe interval and no scene-cut
keyframes, and the bitrate stays fixed (aiortc restarts the encoder, with a keyframe, when
REMB moves it).
"""

import asyncio
import fractions
import json
import math
import sys
import time
import urllib.parse
import urllib.request

import aioice.ice
import numpy
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

WIDTH, HEIGHT = 320, 240

# Tests send traffic to 127.0.0.0/8 only, and the relay under test offers loopback candidates
# alone: aioice gathers every interface's address but loopback, so it is told to gather
# 127.0.0.1 and nothing else.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


class TestPicture(VideoStreamTrack):
    """Moving colour bars."""

    def __init__(self):
        super().__init__()
        self.frames = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        shift = self.frames * 4 % WIDTH
        x = (numpy.arange(WIDTH) + shift) % WIDTH
        row = numpy.stack([x % 256, (x * 2) % 256, 255 - x % 256], axis=1).astype(numpy.uint8)
        image = numpy.repeat(row[numpy.newaxis, :, :], HEIGHT, axis=0)
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        self.frames += 1
        return frame


class Tone(AudioStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz."""

    def __init__(self):
        super().__init__()
        self.samples = 0

    async def recv(self):
        frame = await super().recv()
        t = (numpy.arange(frame.samples) + self.samples) / 48000
        self.samples += frame.samples
        data = (numpy.sin(2 * math.pi * 440 * t) * 8000).astype(numpy.int16)
        tone = AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        tone.pts, tone.sample_rate, tone.time_base = frame.pts, 48000, fractions.Fraction(1, 48000)
        return tone


def keyframes_only_on_request():
    """Patches aiortc's H.264 encoder; returns a counter of the keyframes it was asked for."""
    import av
    from aiortc.codecs import h264

    asked = {"keyframes": 0}

    class Context:
        """libx264's codec context, with our options merged into the ones aiortc sets."""

        def __init__(self, inner):
            object.__setattr__(self, "_inner", inner)

        def __getattr__(self, name):
            return getattr(self._inner, name)

        def __setattr__(self, name, value):
            if name == "options":
                value = dict(value, **{"x264-params": "keyint=infinite:min-keyint=1:scenecut=0"})
            setattr(self._inner, name, value)

    class Av:
        def __getattr__(self, name):
            return getattr(av, name)

    class CodecContext:
        @staticmethod
        def create(*args, **kwargs):
            return Context(av.CodecContext.create(*args, **kwargs))

    proxy = Av()
    proxy.CodecContext = CodecContext
    h264.av = proxy

    encode = h264.H264Encoder._encode_frame

    def counting(self, frame, force_keyframe):
        if force_keyframe:
            asked["keyframes"] += 1
        return encode(self, frame, force_keyframe)

    h264.H264Encoder._encode_frame = counting
    h264.H264Encoder.target_bitrate = property(
        lambda self: 1_000_000, lambda self, value: None
    )
    return asked


def prefer_h264(transceiver):
    codecs = RTCRtpSender.getCapabilities("video").codecs
    transceiver.setCodecPreferences([c for c in codecs if c.mimeType in ("video/H264", "video/rtx")])


def http(method, url, token=None, body=None, content_type=None):
    request = urllib.request.Request(url, data=body, method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if content_type:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read().decode()


async def run(mode, url, token, seconds):
    asked = keyframes_only_on_request() if mode == "publish-on-request" else None
    if asked is not None:
        mode = "publish"
    pc = RTCPeerConnection()
    result = {"mode": mode, "connected": False}
    received = {"video_frames": 0, "audio_frames": 0, "width": 0, "height": 0}

    @pc.on("connectionstatechange")
    def on_state():
        if pc.connectionState == "connected":
            result["connected"] = True

    if mode == "publish":
        picture = TestPicture()
        prefer_h264(pc.addTransceiver(picture, direction="sendonly"))
        pc.addTransceiver(Tone(), direction="sendonly")
    else:
        prefer_h264(pc.addTransceiver("video", direction="recvonly"))
        pc.addTransceiver("audio", direction="recvonly")

        async def consume(track):
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    received["video_frames"] += 1
                    received["width"], received["height"] = frame.width, frame.height
                else:
                    received["audio_frames"] += 1

        @pc.on("track")
        def on_track(track):
            asyncio.ensure_future(consume(track))

    await pc.setLocalDescription(await pc.createOffer())
    status, headers, answer = await asyncio.get_running_loop().run_in_executor(
        None, lambda: http("POST", url, token, pc.localDescription.sdp.encode(), "application/sdp")
    )
    result["status"] = status
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if mode == "publish":
        result["frames_sent"] = picture.frames
    if asked is not None:
        result["keyframes_asked"] = asked["keyframes"]
    result.update(received)
    location = urllib.parse.urljoin(url, headers.get("Location") or headers.get("location"))
    result["delete_status"] = (await asyncio.get_running_loop().run_in_executor(
        None, lambda: http("DELETE", location)
    ))[0]
    await pc.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    mode, url, token, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    asyncio.run(run(mode, url, token, seconds))
