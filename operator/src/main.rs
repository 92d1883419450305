fn main() {
    for crd in stackscope::crdgen::crds() {
        println!("---\n{}", serde_json::to_string_pretty(&crd).unwrap());
    }
}
