# json-one.pl FILE: FILE holds exactly one JSON object (and whitespace) in
# UTF-8; prints its "ok" (which must be a boolean) and, when present, its
# "step", "exit" and "error" as key=value lines. Exit 1 with the reason otherwise.
use strict;
use warnings;
use JSON::PP;
my $path = shift @ARGV;
open(my $f, '<:raw', $path) or die "open $path: $!\n";
my $text = do { local $/; <$f> };
my $json = JSON::PP->new->utf8;
my ($obj, $used) = eval { $json->decode_prefix($text) };
if (!defined $obj) { print "not JSON: ", ($@ || "empty"), "\n"; exit 1; }
if (ref $obj ne 'HASH') { print "not a JSON object\n"; exit 1; }
if (substr($text, $used) =~ /\S/) { print "more than one JSON value on stdout\n"; exit 1; }
if (!JSON::PP::is_bool($obj->{ok})) { print "\"ok\" is not a boolean\n"; exit 1; }
print "ok=", ($obj->{ok} ? "true" : "false"), "\n";
for my $k (qw(step exit error)) {
	next unless exists $obj->{$k};
	my $v = $obj->{$k};
	print "$k=", (defined $v ? (ref $v ? "(not a scalar)" : $v) : "null"), "\n";
}
