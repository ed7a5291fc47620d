//! The extension's icons (16, 48 and 128 px PNG, which the stores ask for), drawn here so
//! that they are reproducible from source: a green card with a gold chip. Written into
//! `bridge/extension/icons/` by `nhi-package icons`; a test checks the checked-in files are
//! PNGs of the right sizes.

use std::io::Write as _;

/// The sizes and the file names the manifest's `icons` use.
pub const SIZES: [(u32, &str); 3] = [
    (16, "icons/icon-16.png"),
    (48, "icons/icon-48.png"),
    (128, "icons/icon-128.png"),
];

const GREEN: [u8; 4] = [0x00, 0x7a, 0x5e, 0xff];
const GOLD: [u8; 4] = [0xe8, 0xb9, 0x3c, 0xff];
const LINE: [u8; 4] = [0xa8, 0x7f, 0x1a, 0xff];
const CLEAR: [u8; 4] = [0, 0, 0, 0];

/// The icon's pixels (RGBA, row by row) at `size` × `size`.
pub fn pixels(size: u32) -> Vec<u8> {
    let s = size as f32;
    let mut out = Vec::with_capacity((size * size * 4) as usize);
    // The card: a rounded rectangle of 86 % × 62 % of the square, centred.
    let (cw, ch) = (s * 0.90, s * 0.64);
    let (cx0, cy0) = ((s - cw) / 2.0, (s - ch) / 2.0);
    let r = s * 0.10;
    // The chip: left half of the card, vertically centred.
    let (kw, kh) = (cw * 0.30, ch * 0.42);
    let (kx0, ky0) = (cx0 + cw * 0.14, cy0 + (ch - kh) / 2.0);
    for y in 0..size {
        for x in 0..size {
            let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
            let in_card = inside_rounded(px, py, cx0, cy0, cw, ch, r);
            let in_chip = inside_rounded(px, py, kx0, ky0, kw, kh, r * 0.4);
            let colour = if in_chip {
                // The chip's contact lines at 48 px and above.
                let line = size >= 48
                    && ((py - (ky0 + kh / 2.0)).abs() < s / 96.0 + 0.5
                        || (px - (kx0 + kw / 2.0)).abs() < s / 96.0 + 0.5);
                if line {
                    LINE
                } else {
                    GOLD
                }
            } else if in_card {
                GREEN
            } else {
                CLEAR
            };
            out.extend_from_slice(&colour);
        }
    }
    out
}

fn inside_rounded(px: f32, py: f32, x0: f32, y0: f32, w: f32, h: f32, r: f32) -> bool {
    if px < x0 || py < y0 || px > x0 + w || py > y0 + h {
        return false;
    }
    let cx = px.clamp(x0 + r, x0 + w - r);
    let cy = py.clamp(y0 + r, y0 + h - r);
    (px - cx).powi(2) + (py - cy).powi(2) <= r * r
}

/// A PNG (8-bit RGBA, no interlace) of `rgba` pixels.
pub fn encode_png(width: u32, height: u32, rgba: &[u8]) -> Vec<u8> {
    let mut raw = Vec::with_capacity(rgba.len() + height as usize);
    for row in rgba.chunks((width * 4) as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &idat[..]),
        (b"IEND", &[][..]),
    ] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        png.extend_from_slice(kind);
        png.extend_from_slice(data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    png
}

/// The width and height a PNG's header says, if it is a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(..8)? != b"\x89PNG\r\n\x1a\n" || bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?);
    Some((w, h))
}

/// Every icon: (path in the extension, PNG bytes).
pub fn icons() -> Vec<(&'static str, Vec<u8>)> {
    SIZES
        .iter()
        .map(|&(size, name)| (name, encode_png(size, size, &pixels(size))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_checked_in_icons_are_pngs_of_the_store_sizes() {
        let ext = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bridge/extension");
        for (size, name) in SIZES {
            let bytes = std::fs::read(ext.join(name))
                .unwrap_or_else(|e| panic!("{name}: {e} (write them: nhi-package icons)"));
            assert_eq!(png_size(&bytes), Some((size, size)), "{name}");
        }
    }

    #[test]
    fn encoded_icons_decode_to_their_pixels() {
        for (size, _) in SIZES {
            let px = pixels(size);
            let png = encode_png(size, size, &px);
            assert_eq!(png_size(&png), Some((size, size)));
            // IDAT starts after the signature (8) and IHDR (4 + 4 + 13 + 4).
            let len = u32::from_be_bytes(png[33..37].try_into().expect("len")) as usize;
            assert_eq!(&png[37..41], b"IDAT");
            let mut raw = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::ZlibDecoder::new(&png[41..41 + len]),
                &mut raw,
            )
            .expect("zlib");
            assert_eq!(raw.len(), px.len() + size as usize);
            assert!(px.chunks(4).any(|p| p == GREEN) && px.chunks(4).any(|p| p == GOLD));
        }
    }
}
