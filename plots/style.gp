# style.gp: shared look of the suite's figures, loaded by every plots/*.gp script.
# A script sets in_csv, out_file and fig_title from its arguments before loading this file
# (gnuplot's load clears ARG1..). The terminal follows the extension of out_file: .pdf ->
# pdfcairo, anything else -> pngcairo, both with enhanced text (axis labels are typeset:
# subscripts, superscripts, UTF-8) while keys and titles stay plain (method names contain _).
if (strlen(out_file) > 4 && out_file[strlen(out_file)-3:] eq "pdf") {
    set terminal pdfcairo enhanced color font "Helvetica,9" size 6in,4in linewidth 1.5
} else {
    set terminal pngcairo enhanced color font "Helvetica,11" size 900,600 linewidth 1.5
}
set output out_file
set datafile separator comma
set datafile missing "NaN"
set encoding utf8
set grid xtics ytics mxtics mytics lc rgb "#dddddd" lw 0.5
set border 3 lw 1
set tics nomirror out
set key noenhanced top right box opaque samplen 2.5 spacing 1.1 font ",9" Left reverse width 1
set title noenhanced font ",11"
set pointsize 1.0
# One colour and one marker per method, the same in every figure, keyed by the method's name
# (the first word of a block's title): learner schedules in blues and oranges with filled
# markers, KRR in greens and the network kernels in purples with open ones, the sequential
# kernel black, the two-layer network grey (Okabe-Ito colours first). A name not in the table
# takes the cycle below by its block number.
method_names  = "e2e layerwise depth=1 depth=2 depth=3 joint krr-poly4 krr-poly8 krr-rbf krr-laplace ntk nngp entk seqkernel twolayer"
method_colors = "#0072B2 #D55E00 #E69F00 #8C510A #F0A868 #56B4E9 #009E73 #005A32 #74C476 #A6D854 #CC79A7 #882255 #6A3D9A #000000 #999999"
method_points = "7 5 9 11 13 15 4 6 12 10 8 3 14 2 1"
cycle_colors  = "#0072B2 #D55E00 #009E73 #CC79A7 #E69F00 #56B4E9 #000000 #999999 #8C7A00 #882255"
cycle_points  = "7 5 9 11 13 15 3 1 2 4"
# position (1-based) of word w in the list l, 0 when absent
word_pos(l, w) = (_wl = " ".l." ", _wp = strstrt(_wl, " ".w." "), _wp > 0 ? words(_wl[1:_wp]) + 1 : 0)
method_color(m, i) = word_pos(method_names, m) > 0 ? word(method_colors, word_pos(method_names, m)) \
                     : word(cycle_colors, (i % 10) + 1)
method_point(m, i) = word_pos(method_names, m) > 0 ? int(word(method_points, word_pos(method_names, m))) \
                     : int(word(cycle_points, (i % 10) + 1))
# the cycle by number, for series that are not methods (the n of the depth figure)
series_color(i) = word(cycle_colors, (i % 10) + 1)
series_point(i) = int(word(cycle_points, (i % 10) + 1))
# the method of each data block: the first word of its title row (rows starting with '"')
block_methods = system(sprintf("awk -F, '/^\"/ {s = $1; gsub(/\"/, \"\", s); sub(/:? .*/, \"\", s); printf \"%%s \", s}' '%s'", in_csv))
block_method(i) = word(block_methods, i + 1)
block_color(i) = method_color(block_method(i), i)
block_point(i) = method_point(block_method(i), i)
# the number of data blocks of the input (blocks are separated by two blank lines)
stats in_csv using 1 nooutput
nblocks = STATS_blocks
set title fig_title
