use super::{Case, check, check_same};

const RUBY_3_3: &str =
    "/app/lib/shop/cart.rb:42:in `add': undefined method `price' for nil:NilClass (NoMethodError)
\tfrom /app/lib/shop/cart.rb:30:in `block in total'
\tfrom /app/lib/shop/cart.rb:29:in `each'
\tfrom /app/lib/shop/cart.rb:29:in `total'
\tfrom /app/spec/cart_spec.rb:10:in `block (2 levels) in <top (required)>'
\tfrom /usr/local/bundle/gems/rspec-core-3.13.0/lib/rspec/core/example.rb:263:in `instance_exec'
";

const RSPEC_RUBY_3_4: &str = "Failure/Error: expect(cart.total).to eq(30)

  expected: 30
       got: 20

  (compared using ==)
# ./lib/shop/cart.rb:29:in 'Shop::Cart#total'
# ./lib/shop/cart.rb:12:in 'Shop::Cart.build'
# ./spec/shop/cart_spec.rb:12:in 'block (2 levels) in <top (required)>'
# /usr/local/bundle/gems/rspec-core-3.13.0/lib/rspec/core/example.rb:263:in 'BasicObject#instance_exec'
# <internal:kernel>:187:in 'Kernel#loop'
";

#[test]
fn ruby_traces_give_their_frames() {
    check(&[
        Case {
            name: "Ruby before 3.4: blocks",
            trace: RUBY_3_3,
            frames: &[
                ("cart.rb::add", Some("/app/lib/shop/cart.rb")),
                ("cart.rb::total", Some("/app/lib/shop/cart.rb")),
                ("cart.rb::each", Some("/app/lib/shop/cart.rb")),
                ("cart.rb::total", Some("/app/lib/shop/cart.rb")),
                (
                    "cart_spec.rb::<top (required)>",
                    Some("/app/spec/cart_spec.rb"),
                ),
                (
                    "example.rb::instance_exec",
                    Some("/usr/local/bundle/gems/rspec-core-3.13.0/lib/rspec/core/example.rb"),
                ),
            ],
        },
        Case {
            name: "RSpec on Ruby 3.4: classes in the labels",
            trace: RSPEC_RUBY_3_4,
            frames: &[
                ("Shop::Cart::total", Some("./lib/shop/cart.rb")),
                ("Shop::Cart::build", Some("./lib/shop/cart.rb")),
                (
                    "cart_spec.rb::<top (required)>",
                    Some("./spec/shop/cart_spec.rb"),
                ),
                (
                    "BasicObject::instance_exec",
                    Some("/usr/local/bundle/gems/rspec-core-3.13.0/lib/rspec/core/example.rb"),
                ),
                ("Kernel::loop", Some("<internal:kernel>")),
            ],
        },
    ]);
}

#[test]
fn the_same_ruby_failure_elsewhere_gives_the_same_frames() {
    check_same(&[(
        "shifted lines, deeper blocks",
        RUBY_3_3,
        "/app/lib/shop/cart.rb:45:in `add': undefined method `price' for nil:NilClass (NoMethodError)
\tfrom /app/lib/shop/cart.rb:33:in `block (2 levels) in total'
\tfrom /app/lib/shop/cart.rb:32:in `each'
\tfrom /app/lib/shop/cart.rb:32:in `total'
\tfrom /app/spec/cart_spec.rb:11:in `block (2 levels) in <top (required)>'
\tfrom /usr/local/bundle/gems/rspec-core-3.13.0/lib/rspec/core/example.rb:263:in `instance_exec'
",
    )]);
}
