# neps_d.gp: sample complexity n_eps vs input dimension d, log-log, one curve per method with
# the power law n_eps = C d^b fitted over the dimensions where eps was reached (slope b in the
# key, dashed). Open triangles: eps not reached up to the largest n run (n_eps > that n).
#   gnuplot -c plots/neps_d.gp fig_neps_d_X.csv out.png ["title"]
# Input: blocks of "d,n_eps,reached,fit" rows with a header naming the method and slope.
in_csv = ARG1
out_file = ARG2
fig_title = (ARGC >= 3) ? ARG3 : ""
load system("dirname '".ARG0."'")."/style.gp"
set logscale xy
set xlabel "input dimension d"
set ylabel "n_ε: smallest n with median error ≤ ε"
set format x "%g"
set format y "%g"
set xtics (4, 6, 8, 12, 16, 24, 32, 48, 64)
set key outside right top
set autoscale fix
set offsets graph 0.08, graph 0.08, graph 0.1, graph 0.1
plot for [i=0:nblocks-1] in_csv index i using 1:($3 == 1 ? $2 : NaN) with linespoints \
         lc rgb block_color(i) pt block_point(i) title columnheader(1), \
     for [i=0:nblocks-1] in_csv index i using 1:4 with lines lc rgb block_color(i) dt 2 notitle, \
     for [i=0:nblocks-1] in_csv index i using 1:($3 == 0 ? $2 : NaN) with points \
         lc rgb block_color(i) pt 8 ps 1.6 notitle, \
     keyentry with points lc rgb "black" pt 8 ps 1.6 title "not reached up to this n (n_eps > n)"
