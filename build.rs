//! Rebuild when lesson content changes: the lessons are embedded in the binary.
fn main() {
    println!("cargo:rerun-if-changed=lessons");
}
