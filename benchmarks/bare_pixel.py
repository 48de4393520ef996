"""The peer of bench_ingest: a bare FastAPI app answering the same GIF without any processing."""

from fastapi import FastAPI, Response

GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
app = FastAPI()


@app.get("/t.gif")
async def pixel() -> Response:
    """The GIF, nothing else."""
    return Response(GIF, media_type="image/gif", headers={"Cache-Control": "no-store"})
